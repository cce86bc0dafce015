"""Hatchling build hook: what the app reads at run time goes into the wheel, inside the package.

The hook's `force-include` (pyproject.toml) maps the repository's top-level templates/, static/
and migrations/ into klynge_rsvp/. It is hatchling's own forced inclusion, set here rather than
in [tool.hatch.build.targets.wheel.force-include] because that table is also copied into
site-packages by an editable install, where the app reads the checkout and a copy would only go
stale.

Each catalogue is compiled (messages.mo beside its .po). The .mo files are generated and never
kept in git. In a checkout the app compiles them when it
starts (i18n.compile_catalogues); an installed app may sit on a read-only file system (the
systemd units in deploy/ make it so), so the wheel brings them along. They are added as forced
inclusions, which hatchling writes after the package's own files: installed, each .mo is at least
as new as its .po, and the start-up check finds nothing to compile.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TRANSLATIONS = Path("klynge_rsvp") / "translations"


class CompileCatalogues(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version, build_data):
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads the checkout, where the app compiles them
        for source, target in self.config.get("force-include", {}).items():
            build_data["force_include"][source] = target
        self._directory = tempfile.TemporaryDirectory(prefix="klynge-mo-")
        root = Path(self.root)
        for po_path in sorted((root / TRANSLATIONS).glob("*/LC_MESSAGES/messages.po")):
            language = po_path.parent.parent.name
            with po_path.open("rb") as po_file:
                catalogue = read_po(po_file, locale=language)
            mo_path = Path(self._directory.name) / f"{language}.mo"
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalogue)
            relative = po_path.relative_to(root).with_suffix(".mo")
            build_data["force_include"][str(mo_path)] = relative.as_posix()

    def finalize(self, version, build_data, artifact_path):
        directory = getattr(self, "_directory", None)
        if directory is not None:
            directory.cleanup()
