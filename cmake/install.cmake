# What `cmake --install` puts where (DESIGN.md section 1), relative to the
# prefix chosen at install time (`cmake --install build --prefix /usr`):
#
#   sbin/p2pvpnd, bin/p2pvpnctl, bin/p2pvpn-rendezvous
#       install(TARGETS) rules beside each target in src/*/CMakeLists.txt
#   lib/systemd/system/p2pvpnd.service, lib/systemd/system/p2pvpn-rendezvous.service
#   share/doc/p2pvpn/examples/p2pvpn.conf.example, p2pvpn-rendezvous.conf.example
#
# Nothing is written to /etc: the configuration files are the administrator's
# (start from the examples). DESTDIR is honoured throughout.

set(P2PVPN_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
	"Directory of the systemd units, relative to the install prefix or absolute")

install(FILES conf/p2pvpn.conf.example conf/p2pvpn-rendezvous.conf.example
	DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# The units in systemd/ name the binaries under /usr, as a distribution
# installs them. The prefix is only known at install time, so the paths are
# rewritten then, into the build tree, and the result is installed: with
# --prefix /usr the units are installed unchanged.
install(CODE "
	set(_p2pvpn_units \"${PROJECT_SOURCE_DIR}/systemd/p2pvpnd.service;${PROJECT_SOURCE_DIR}/systemd/p2pvpn-rendezvous.service\")
	set(_p2pvpn_gen \"${PROJECT_BINARY_DIR}/systemd\")
	set(_p2pvpn_unitdir \"${P2PVPN_SYSTEMD_UNITDIR}\")
	set(_p2pvpn_bindir \"${CMAKE_INSTALL_BINDIR}\")
	set(_p2pvpn_sbindir \"${CMAKE_INSTALL_SBINDIR}\")
	set(_p2pvpn_docdir \"${CMAKE_INSTALL_DOCDIR}\")
")
install(CODE [[
	foreach(_d _p2pvpn_unitdir _p2pvpn_bindir _p2pvpn_sbindir _p2pvpn_docdir)
		if(NOT IS_ABSOLUTE "${${_d}}")
			set(${_d} "${CMAKE_INSTALL_PREFIX}/${${_d}}")
		endif()
	endforeach()
	file(MAKE_DIRECTORY "${_p2pvpn_gen}")
	set(_p2pvpn_out "")
	foreach(_u IN LISTS _p2pvpn_units)
		get_filename_component(_name "${_u}" NAME)
		file(READ "${_u}" _text)
		string(REPLACE "/usr/sbin/" "${_p2pvpn_sbindir}/" _text "${_text}")
		string(REPLACE "/usr/bin/" "${_p2pvpn_bindir}/" _text "${_text}")
		string(REPLACE "/usr/share/doc/p2pvpn/" "${_p2pvpn_docdir}/" _text "${_text}")
		file(WRITE "${_p2pvpn_gen}/${_name}" "${_text}")
		list(APPEND _p2pvpn_out "${_p2pvpn_gen}/${_name}")
	endforeach()
	file(INSTALL DESTINATION "${_p2pvpn_unitdir}" TYPE FILE
		PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
		FILES ${_p2pvpn_out})
]])
