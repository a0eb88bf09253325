# Bar chart for tools/bench. Call with
#   gnuplot -e "dat='bench.dat'; png='bench.png'; title='...'; n=ROWS;
#               tmin=G; tmax=G; rmin=MS; rmax=MS; tgt='bench-targets.txt'"
#           tools/bench-plot.gp
# n: the number of rows (paths). tmin..tmax and rmin..rmax: the smallest
# and largest TCP throughput (Gbit/s) and RTT (ms), which set the range of
# the two log axes.
# bench.dat: one row per path: "name" g1 g4 udp_rx_mbit udp_loss_pct rtt_ms
# vpn_cpu iperf3_cpu rss_mib, "?" for a missing figure (drawn as no bar,
# marked n/a). tgt (optional): the ratio and target lines, one a line,
# shown as text in the last panel.

if (!exists("title")) title = ''
if (!exists("n")) n = 6
if (!exists("tmin")) tmin = 0.1
if (!exists("tmax")) tmax = 100
if (!exists("rmin")) rmin = 0.01
if (!exists("rmax")) rmax = 10
# decade at or below v / 2
floor10(v) = 10 ** floor(log10(v / 2))
set terminal pngcairo size 1800,1100 font "sans,11"
set output png
set datafile missing '?'

set style fill solid 0.85 border -1
set grid ytics lc rgb '#dddddd'
set border 3
# The path names are long: slanted under the bars.
set xtics nomirror scale 0 rotate by -25 left
set ytics nomirror
set yrange [0:*]
set xrange [-0.6:n - 0.4]
set key top right horizontal samplen 2
set offsets 0, 0, graph 0.15, 0
set bmargin 9
w = 0.36
lbl(v) = sprintf(v < 10 ? "%.2f" : "%.1f", v)
# y of an "n/a" mark for a missing figure in column c, or no mark
na(c, y) = valid(c) ? 1/0 : y

set multiplot layout 2,3 title "p2pvpn vs wireguard-go vs raw veth\n{/*0.8 ".title."}"

# Bars on a log axis start from the axis' bottom: the raw link is an order
# of magnitude above the tunnels, which would otherwise be slivers.
set title "TCP throughput (iperf3), Gbit/s, log scale"
set logscale y
set offsets 0, 0, 0, 0
set yrange [floor10(tmin):tmax * 4]
set boxwidth w
plot dat using 0:(1/0):xtic(1) notitle, \
     ''  using ($0 - w/2):2 with boxes lc rgb '#4c72b0' title '1 stream', \
     ''  using ($0 + w/2):3 with boxes lc rgb '#55a868' title '4 streams', \
     ''  using ($0 - w/2):2:(lbl($2)) with labels offset 0,0.7 notitle, \
     ''  using ($0 + w/2):3:(lbl($3)) with labels offset 0,0.7 notitle, \
     ''  using 0:(na(2, floor10(tmin) * 1.4)):("n/a") with labels offset 0,0.7 notitle

set title "UDP at 500 Mbit/s offered: received Mbit/s (loss % above)"
unset logscale y
set offsets 0, 0, graph 0.15, 0
set yrange [0:*]
set boxwidth 0.5
plot dat using 0:4:xtic(1) with boxes lc rgb '#64b5cd' notitle, \
     ''  using 0:4:(sprintf("%.0f\n%.2f %%", $4, $5)) with labels offset 0,1.8 notitle, \
     ''  using 0:(na(4, 0)):("n/a") with labels offset 0,0.7 notitle

set title "ping RTT (avg), ms, log scale"
set logscale y
set offsets 0, 0, 0, 0
set yrange [floor10(rmin):rmax * 4]
set boxwidth 0.5
plot dat using 0:6:xtic(1) with boxes lc rgb '#8172b2' notitle, \
     ''  using 0:6:(sprintf("%.3f", $6)) with labels offset 0,0.7 notitle, \
     ''  using 0:(na(6, floor10(rmin) * 1.4)):("n/a") with labels offset 0,0.7 notitle

set title "CPU seconds per GB transferred (TCP runs); target for p2pvpn: 6"
unset logscale y
set offsets 0, 0, graph 0.15, 0
set yrange [0:*]
set boxwidth w
plot dat using 0:(1/0):xtic(1) notitle, \
     6 with lines dt 2 lc rgb '#555555' notitle, \
     ''  using ($0 - w/2):7 with boxes lc rgb '#c44e52' title 'VPN processes', \
     ''  using ($0 + w/2):8 with boxes lc rgb '#dd8452' title 'iperf3 ends', \
     ''  using ($0 - w/2):7:(lbl($7)) with labels offset 0,0.7 notitle, \
     ''  using ($0 + w/2):8:(lbl($8)) with labels offset 0,0.7 notitle, \
     ''  using ($0 - w/2):(na(7, 0)):("n/a") with labels offset 0,0.7 notitle, \
     ''  using ($0 + w/2):(na(8, 0)):("n/a") with labels offset 0,0.7 notitle

# Log scale: Go's heap is two orders of magnitude above p2pvpnd.
set title "peak RSS (VmHWM) of one VPN process, MiB, log scale; target: 8"
set logscale y
set offsets 0, 0, 0, 0
set yrange [1:*]
set boxwidth 0.5
plot dat using 0:9:xtic(1) with boxes lc rgb '#937860' notitle, \
     8 with lines dt 2 lc rgb '#555555' notitle, \
     ''  using 0:9:(lbl($9)) with labels offset 0,0.7 notitle, \
     ''  using 0:(na(9, 1.4)):("n/a") with labels offset 0,0.7 notitle

if (exists("tgt")) {
	unset logscale y
	unset title
	unset xtics
	unset ytics
	unset grid
	unset border
	set xrange [0:1]
	set yrange [-14:0.5]
	set datafile separator "\t"
	plot tgt using (0):(-$0):1 with labels left font "sans,9" notitle
}

unset multiplot
