# Vivado batch build: project -> block design -> synth -> impl (to route) -> reports and sign-off checks (setup,
# hold, DRC, methodology) -> only then <name>.bit + <name>.hwh.
#
#   vivado -mode batch -source build_bitstream.tcl -tclargs <build_dir>
#
# <build_dir> holds build_config.tcl (written by `python -m bitstreams.build`), the generated core
# Verilog (rtl/osc_core.v), the wrapper and block_design.tcl. Needs Vivado >= 2020.2 (assign_bd_address
# -offset/-range); PYNQ 3.x images are built with 2022.1 / 2024.1. UNTESTED without Vivado.
set build_dir [file normalize [lindex $argv 0]]
source [file join $build_dir build_config.tcl]

set proj_dir [file join $build_dir vivado]
create_project -force $PROJECT_NAME $proj_dir -part $PART
if {[llength [get_board_parts -quiet $BOARD_PART]] > 0} {
    set_property BOARD_PART $BOARD_PART [current_project]
} else {
    puts "WARNING: board part $BOARD_PART not installed; using the part $PART and explicit PS7 DDR settings"
}
add_files -norecurse [list [file join $build_dir rtl osc_core.v] [file join $build_dir osc_core_wrapper.v]]
update_compile_order -fileset sources_1

source [file join $build_dir block_design.tcl]

set bd_file [get_files $BD_NAME.bd]
generate_target all $bd_file
set wrapper [make_wrapper -files $bd_file -top]
add_files -norecurse $wrapper
set_property top ${BD_NAME}_wrapper [current_fileset]
update_compile_order -fileset sources_1

launch_runs synth_1 -jobs $JOBS
wait_on_run synth_1
if {[get_property PROGRESS [get_runs synth_1]] ne "100%"} { error "synthesis failed; see $proj_dir" }
# Implement up to route_design only: the bitstream is written below, after every check has passed.
launch_runs impl_1 -to_step route_design -jobs $JOBS
wait_on_run impl_1
if {[get_property PROGRESS [get_runs impl_1]] ne "100%"} { error "implementation failed; see $proj_dir" }

open_run impl_1
set out_dir [file join $build_dir out]
file mkdir $out_dir
report_utilization -file [file join $out_dir utilization.rpt]
report_timing_summary -max_paths 20 -report_unconstrained -file [file join $out_dir timing.rpt]
check_timing -file [file join $out_dir check_timing.rpt]
report_drc -file [file join $out_dir drc.rpt]
report_methodology -file [file join $out_dir methodology.rpt]
report_power -file [file join $out_dir power.rpt]

# ---- sign-off checks: setup and hold slack, DRC errors, methodology critical warnings ------------------------
set failures {}
set setup_paths [get_timing_paths -delay_type max -max_paths 1 -nworst 1]
set hold_paths [get_timing_paths -delay_type min -max_paths 1 -nworst 1]
if {[llength $setup_paths] == 0 || [llength $hold_paths] == 0} {
    lappend failures "no timed paths (is FCLK0 constrained?); see check_timing.rpt"
} else {
    set wns [get_property SLACK $setup_paths]
    set whs [get_property SLACK $hold_paths]
    puts "TIMING setup WNS $wns ns, hold WHS $whs ns at $FCLK0_MHZ MHz"
    if {$wns < 0} { lappend failures "setup timing not met (WNS $wns ns at $FCLK0_MHZ MHz): lower FCLK0 or pipeline" }
    if {$whs < 0} { lappend failures "hold timing not met (WHS $whs ns)" }
}
set drc_errors [get_drc_violations -quiet -filter {SEVERITY == "Error" || SEVERITY == "Critical Warning"}]
if {[llength $drc_errors] > 0} { lappend failures "[llength $drc_errors] DRC errors: $drc_errors (drc.rpt)" }
set meth_critical [get_methodology_violations -quiet -filter {SEVERITY == "Critical Warning" || SEVERITY == "Error"}]
if {[llength $meth_critical] > 0} {
    lappend failures "[llength $meth_critical] methodology critical warnings: $meth_critical (methodology.rpt)"
}
if {[llength $failures] > 0} {
    error "sign-off checks failed, no bitstream written:\n  [join $failures "\n  "]"
}

# ---- outputs: only now the bitstream ---------------------------------------------------------------------------
write_bitstream -force [file join $out_dir $OUTPUT_NAME.bit]
# PYNQ's Overlay needs <name>.bit and <name>.hwh side by side (docs: pynq_libraries/overlay.rst).
set hwh [glob -nocomplain [file join $proj_dir $PROJECT_NAME.gen sources_1 bd $BD_NAME hw_handoff $BD_NAME.hwh] \
                         [file join $proj_dir $PROJECT_NAME.srcs sources_1 bd $BD_NAME hw_handoff $BD_NAME.hwh]]
if {[llength $hwh] == 0} { error "no hardware handoff (.hwh) found for $BD_NAME" }
file copy -force [lindex $hwh 0] [file join $out_dir $OUTPUT_NAME.hwh]
write_bd_tcl -force [file join $out_dir ${BD_NAME}_bd.tcl]
puts "BITSTREAM_DONE [file join $out_dir $OUTPUT_NAME.bit]"
