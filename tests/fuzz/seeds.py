"""Seeds for the fuzzer: one small valid artifact of every shape each reader takes.

Built by the sample builders (deterministic) plus the real fixtures, so mutants start close
to what a reader really parses and get past its first checks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from intune_step.samples.apfs import build_apfs_dmg
from intune_step.samples.apk import build_apk
from intune_step.samples.ipa import build_ipa
from intune_step.samples.macos import build_dmg, build_pkg, info_plist
from intune_step.samples.windows import build_intunewin, build_msix

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _built(name: str, make: Callable[[Path], object]) -> bytes:
    with tempfile.TemporaryDirectory(prefix="fuzz-seed-") as folder:
        path = Path(folder) / name
        make(path)
        return path.read_bytes()


def seeds(suffix: str) -> list[bytes]:
    """The seed files for the reader of ``suffix``; a stand-in for a suffix without one."""
    make = SEEDS.get(suffix)
    return make() if make else [b"seed"]


def _plist() -> bytes:
    return info_plist("com.example.seed", "1.2.3", "12.0")


def _msix(bundle: bool) -> bytes:
    return _built("a.msixbundle" if bundle else "a.msix", lambda p: build_msix(
        p, name="Contoso.Seed", version="1.2.3.0", publisher="CN=Contoso",
        arch="x64,arm64" if bundle else "x64", min_version="10.0.17763.0", bundle=bundle))


def _pkg(shape: str) -> bytes:
    return _built("a.pkg", lambda p: build_pkg(p, bundle_id="com.example.seed",
                                               version="1.2.3", min_os="12.0",
                                               shape=shape))  # type: ignore[arg-type]


def _apfs(compression: str, decmpfs: tuple[str, ...] = ()) -> bytes:
    return _built("a.dmg", lambda p: build_apfs_dmg(
        p, apps={"Seed.app": _plist()}, files={"ReadMe.txt": b"seed\n"},
        compression=compression, decmpfs=decmpfs))


SEEDS: dict[str, Callable[[], list[bytes]]] = {
    ".ipa": lambda: [_built("a.ipa", lambda p: build_ipa(p, binary_plist=True)),
                     _built("b.ipa", lambda p: build_ipa(p, binary_plist=False,
                                                         display_name="Dëmo"))],
    ".apk": lambda: [_built("a.apk", lambda p: build_apk(p)),
                     _built("b.apk", lambda p: build_apk(p, app_name={"": "Seed", "fr": "Grain"})),
                     *(path.read_bytes()
                       for path in sorted((FIXTURES / "third_party").glob("*.apk")))],
    ".msi": lambda: [(FIXTURES / "windows" / "demo.msi").read_bytes()],
    ".msix": lambda: [_msix(bundle=False)],
    ".msixbundle": lambda: [_msix(bundle=True), _built("b.msixbundle", lambda p: build_msix(
        p, name="Contoso.Seed", version="1.2.3.0", publisher="CN=Contoso", arch="x64",
        min_version="10.0.17763.0", bundle=True, inner="Cöntoso Seed_{arch}.msix"))],
    ".intunewin": lambda: [_built("a.intunewin", lambda p: build_intunewin(
        p, setup_file="setup.exe", files={"setup.exe": b"MZ" + bytes(300)}, name="Seed"))],
    ".pkg": lambda: [_pkg("product"), _pkg("component")],
    ".dmg": lambda: [_built("a.dmg", lambda p: build_dmg(p, apps={"Seed.app": _plist()})),
                     (FIXTURES / "macos" / "hfsplus_zlib.dmg").read_bytes(),
                     _apfs("zlib"), _apfs("lzfse"),
                     _apfs("raw", decmpfs=("Seed.app/Contents/Info.plist",))],
}
