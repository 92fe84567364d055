import pytest

from lsvd.registry import Registry


def test_register_create_list_and_close_matches():
    reg = Registry("widget")

    @reg.register("spinner")
    class Spinner:
        def __init__(self, speed: int = 1):
            self.speed = speed

    @reg.register("spanner")
    def make_spanner(size: int = 2):
        return ("spanner", size)

    assert reg.create("spinner", speed=3).speed == 3
    assert reg.create("spanner") == ("spanner", 2)
    assert reg.list() == ["spanner", "spinner"] and reg.list("spi*") == ["spinner"]
    assert "spinner" in reg and "hammer" not in reg
    with pytest.raises(KeyError, match="did you mean spinner") as err:
        reg.get("spiner")
    assert "--list" in str(err.value)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("spinner")(object)


def test_builtins_are_imported_lazily():
    reg = Registry("thing", builtins=["json"])
    assert not reg._loaded
    reg.list()
    assert reg._loaded


def _write_package(root, name: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


#: Walks the package ``plugpkg`` that the test below writes; its modules register here.
PLUGINS = Registry("plugin", packages=["plugpkg"])
REG_MODULE = "import tests.test_registry as t\n@t.PLUGINS.register({name!r})\nclass Entry: pass\n"


def test_packages_are_walked_lazily_and_private_modules_skipped(tmp_path, monkeypatch) -> None:
    import sys

    _write_package(tmp_path, "plugpkg", {
        "__init__.py": "",
        "alpha.py": REG_MODULE.format(name="alpha"),
        "_helpers.py": "raise RuntimeError('a private module is never imported by the registry')",
        "sub/__init__.py": "",
        "sub/beta.py": REG_MODULE.format(name="beta"),
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "plugpkg" not in sys.modules and not PLUGINS._loaded  # nothing imported until the first lookup
    assert PLUGINS.list() == ["alpha", "beta"]
    assert PLUGINS.get("beta").__module__ == "plugpkg.sub.beta"
    assert "plugpkg._helpers" not in sys.modules
    for name in [m for m in sys.modules if m.startswith("plugpkg")]:
        monkeypatch.delitem(sys.modules, name)


def test_a_failed_import_is_raised_again_not_a_shorter_registry(tmp_path, monkeypatch) -> None:
    import sys

    _write_package(tmp_path, "brokenpkg", {"__init__.py": "", "bad.py": "import no_such_module_here\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("plugin", packages=["brokenpkg"])
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
            reg.list()
    for name in [m for m in sys.modules if m.startswith("brokenpkg")]:
        monkeypatch.delitem(sys.modules, name)


def test_entry_points_of_every_distribution(monkeypatch) -> None:
    """A stale metadata copy of a distribution (first on the path, without the group) hides nothing."""
    import importlib.metadata as md

    from lsvd import registry as registry_module

    class Dist:
        def __init__(self, *eps: md.EntryPoint) -> None:
            self.entry_points = list(eps)

    stale = Dist(md.EntryPoint("lsvd-train", "lsvd.train.__main__:main", "console_scripts"))
    fresh = Dist(md.EntryPoint("mine", "json", "lsvd.test_group"), md.EntryPoint("again", "json", "lsvd.test_group"),
                 md.EntryPoint("other", "csv", "other.group"))
    monkeypatch.setattr(registry_module.importlib.metadata, "distributions", lambda: [stale, fresh])
    assert registry_module.entry_point_modules("lsvd.test_group") == ["json"]
    reg = Registry("thing", entry_points="lsvd.test_group")
    assert not reg._loaded
    assert reg.list() == [] and reg._loaded  # json imported, registers nothing
    with pytest.raises(KeyError, match="entry-point group 'lsvd.test_group'"):
        reg.get("x")


def test_a_reexecuted_module_replaces_its_own_entries() -> None:
    reg = Registry("widget")
    namespace: dict = {"reg": reg, "__name__": "some.module"}
    code = "@reg.register('w')\nclass W: pass\n"
    exec(code, namespace)
    first = reg.get("w")
    exec(code, namespace)  # e.g. importlib.reload
    assert reg.get("w") is namespace["W"] is not first
