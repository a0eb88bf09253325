#!/bin/bash
# Checks the build boundaries: a file in src/<module>/ includes only headers
# of its own module and of the modules it links, directly or through them.
# usage: layers.sh LAYERS_FILE SRC_DIR. Each line of LAYERS_FILE is a module
# followed by the modules it may use (tests/CMakeLists.txt writes it from
# the LIBS of every src/*/CMakeLists.txt). Exits 1 listing each include that
# crosses the layers.
set -u
layers=$1 src=$2
bad=0 files=0
while read -r mod deps; do
	[ -n "$mod" ] || continue
	for f in "$src/$mod"/*.[ch]; do
		[ -e "$f" ] || continue
		files=$((files + 1))
		while IFS=: read -r line dir; do
			case " $mod $deps " in
			*" $dir "*) ;;
			*)
				echo "${f#"$src"/}:$line: includes $dir/, but $mod links only: ${deps:-nothing}"
				bad=1
				;;
			esac
		done < <(grep -n '^#include "[a-z0-9_]*/' "$f" |
			sed 's|^\([0-9]*\):#include "\([a-z0-9_]*\)/.*|\1:\2|')
	done
done <"$layers"
if [ "$files" -eq 0 ]; then
	echo "no source files found under $src for the modules in $layers" >&2
	exit 1
fi
[ "$bad" -eq 0 ] && echo "layers: $files files, every include within its module's links"
exit "$bad"
