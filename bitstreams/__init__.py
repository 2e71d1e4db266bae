"""Board bitstreams (Vivado side, manifests), latency/power measurement and the chip-roadmap report.

python -m bitstreams.build --config pynq-z2    # Verilog, exports, resources, manifest, Tcl (+ Vivado if present)
python -m bitstreams.measure --board golden    # per-image latency split and energy
python -m bitstreams.roadmap                   # docs/roadmap.md + docs/figures/roadmap-*.png
"""
