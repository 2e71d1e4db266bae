"""The sim board: the real RTL under cocotb (sim.client.SimClient), reached through a simulated overlay
(host.boards.simdevice.SimOverlay) whose core pynq binds to host.boards.pynq_ip.OscillatorIP, the IP class the PYNQ-Z2
uses, with pynq's MMIO/DMA/allocate on host.boards.simdevice.SimDevice."""
from __future__ import annotations

import time

from fixedpoint.spec import HardwareParams

from .base import BoardDisconnected, BoardError
from .pynq_z2 import PYNQ_CLOCK_HZ, OverlayBoard, find_core


class SimBoard(OverlayBoard):
    name = "sim"

    def __init__(self, params: HardwareParams, simulator: str = "verilator", build_dir: str | None = None,
                 waves: bool = False, run_timeout_s: float = 600.0, client=None):
        from .simdevice import SimDevice, SimOverlay

        t0 = time.perf_counter()
        if client is None:
            from sim.client import SimClient

            try:
                client = SimClient(params, simulator=simulator, waves=waves, build_dir=build_dir)
            except (ConnectionError, TimeoutError, OSError) as e:  # the client has already cleaned up
                raise BoardError(f"the RTL simulation ({simulator}) did not start: {e}") from None
        self.client = client
        self.start_s = time.perf_counter() - t0
        self.device = SimDevice(client)
        try:
            self.overlay = SimOverlay(self.device)
            super().__init__(find_core(self.overlay), clock_hz=PYNQ_CLOCK_HZ, run_timeout_s=run_timeout_s)
        except Exception:
            self._close_client()
            raise

    def _run_batch(self, class_ids, phases0, steps):
        t0 = time.perf_counter()
        cpu0 = self.device.stats["sim_cpu_s"]
        results = super()._run_batch(class_ids, phases0, steps)
        wall, cpu = time.perf_counter() - t0, self.device.stats["sim_cpu_s"] - cpu0
        for res in results:
            res.timing["sim_wall_s"] = wall
            res.timing["sim_cpu_s"] = cpu
        return results

    def _close_client(self):
        try:
            self.client.close()
        except (OSError, BoardDisconnected):
            pass

    def close(self) -> None:
        super().close()
        self._close_client()
