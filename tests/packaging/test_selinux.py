"""The SELinux module compiles with the refpolicy devel Makefile and links against Debian's
compiled base and nut modules, so the types it requires exist; NUT's driver domain can read the
port-file type."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import ROOT, Build, need, run

pytestmark = pytest.mark.slow
DEVEL = "/usr/share/selinux/devel/Makefile"


def link(out: Path, *modules: Path) -> subprocess.CompletedProcess[str]:
    need("semodule_link")
    return run(["semodule_link", "-o", out, *modules], check=False)


def compile_module(directory: Path, name: str) -> Path:
    run(["make", "-C", directory, "-f", DEVEL, f"{name}.pp"])
    return directory / f"{name}.pp"


def test_module_compiles(selinux_build: Build, clean_tree_check: None):
    assert "Compiling default enphase_monitor module" in selinux_build.log
    print(f"make selinux: {selinux_build.seconds:.1f} s")


def test_module_links_against_base_and_nut(selinux_build: Build, refpolicy: dict[str, Path],
                                           tmp_path: Path):
    proc = link(tmp_path / "linked.lnk", refpolicy["base"], refpolicy["nut"],
                selinux_build.files["pp"])
    assert proc.returncode == 0, proc.stderr


def test_link_fails_without_nut_module(selinux_build: Build, refpolicy: dict[str, Path],
                                       tmp_path: Path):
    """The module really depends on NUT's policy (nut_upsdrvctl_t)."""
    proc = link(tmp_path / "linked.lnk", refpolicy["base"], selinux_build.files["pp"])
    assert proc.returncode != 0
    assert "requirements were not met" in proc.stderr
    assert "nut_upsdrvctl_t" in proc.stderr


def test_bogus_requirement_compiles_but_fails_to_link(refpolicy: dict[str, Path],
                                                      tmp_path: Path):
    """A compile alone does not prove the required types exist: `make -f .../devel/Makefile`
    builds a module requiring a type no policy defines, only `semodule_link` against base.pp
    and nut.pp fails."""
    need(DEVEL, "checkmodule")
    work = tmp_path / "bogus"
    work.mkdir()
    (work / "enphase_bogus.te").write_text(
        "policy_module(enphase_bogus, 0.0.1)\n"
        "gen_require(`\n\ttype nut_upsdrvctl_t;\n\ttype nut_no_such_t;\n')\n"
        "allow nut_upsdrvctl_t nut_no_such_t:file read_file_perms;\n")
    pp = compile_module(work, "enphase_bogus")
    proc = link(tmp_path / "bogus.lnk", refpolicy["base"], refpolicy["nut"], pp)
    assert proc.returncode != 0
    assert "type/attribute nut_no_such_t" in proc.stderr


def test_driver_domain_reads_port_files(selinux_build: Build, refpolicy: dict[str, Path],
                                        tmp_path: Path):
    """sesearch on the linked, expanded policy: nut_upsdrvctl_t (dummy-ups) may search the
    state directory and open/read/stat the files in it."""
    need("semodule_expand", "sesearch")
    lnk = tmp_path / "linked.lnk"
    proc = link(lnk, refpolicy["base"], refpolicy["nut"], selinux_build.files["pp"])
    assert proc.returncode == 0
    policy = tmp_path / "policy.bin"
    run(["semodule_expand", lnk, policy])
    rules = run(["sesearch", "-A", "-s", "nut_upsdrvctl_t", "-t", "enphase_monitor_var_lib_t",
                 policy]).stdout
    print(rules)
    perms = {cls: set(found.split()) for cls, found in
             re.findall(r"enphase_monitor_var_lib_t:(\w+) \{ ([^}]*) \}", rules)}
    assert {"open", "read", "getattr"} <= perms.get("file", set()), rules
    assert {"search", "getattr"} <= perms.get("dir", set()), rules
    # /var/lib itself must be searchable on the way there
    var_lib = run(["sesearch", "-A", "-s", "nut_upsdrvctl_t", "-t", "var_lib_t", "-c", "dir",
                   "-p", "search", policy]).stdout
    assert "search" in var_lib


def test_file_contexts_label_the_state_directory(selinux_build: Build, tmp_path: Path):
    need("semodule_unpackage")
    run(["semodule_unpackage", selinux_build.files["pp"], tmp_path / "m.mod",
         tmp_path / "m.fc"])
    entries = [line.split() for line in (tmp_path / "m.fc").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert entries == [["/var/lib/enphase-monitor(/.*)?",
                        "system_u:object_r:enphase_monitor_var_lib_t:s0"]]
    pattern = re.compile(entries[0][0])
    for path in ("/var/lib/enphase-monitor", "/var/lib/enphase-monitor/myups.dev",
                 "/var/lib/enphase-monitor/.myups.dev.abc123.tmp",
                 "/var/lib/enphase-monitor/myups.dev-nocomms"):
        assert pattern.fullmatch(path), path


def test_interface_file_is_valid(tmp_path: Path):
    """A module using every interface of enphase_monitor.if compiles (with that .if beside it,
    as the devel Makefile finds local interfaces)."""
    need(DEVEL, "checkmodule")
    work = tmp_path / "user"
    work.mkdir()
    for ext in ("te", "if", "fc"):
        shutil.copy(ROOT / "selinux" / f"enphase_monitor.{ext}", work)
    interfaces = re.findall(r"^interface\(`(\w+)'", (work / "enphase_monitor.if").read_text(),
                            re.M)
    assert len(interfaces) >= 3
    body = "".join(f"{name}(enphase_user_t)\n" for name in interfaces)
    (work / "enphase_user.te").write_text(
        "policy_module(enphase_user, 0.0.1)\ntype enphase_user_t;\ndomain_type(enphase_user_t)\n"
        + body)
    compile_module(work, "enphase_user")
