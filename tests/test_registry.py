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
