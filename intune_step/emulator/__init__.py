"""A faithful local Intune for tests, benchmarks and the sandbox: Entra login, Microsoft Graph
``deviceAppManagement`` and Azure Blob, over TLS, in one process.

The publish code never imports this package; tests and the sandbox do::

    from intune_step.emulator import Emulator, EmulatorConfig
    with Emulator(EmulatorConfig()) as emu:
        ...
"""

from .config import EmulatorConfig
from .emulator import Emulator
from .faults import Fault
from .server import RequestRecord
from .tenants import Tenants
from .timing import Delay, Lateness, StateTiming

__all__ = [
    "Delay",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "Lateness",
    "RequestRecord",
    "StateTiming",
    "Tenants",
]
