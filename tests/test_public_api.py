from __future__ import annotations

import importlib
import pkgutil

import alumni_community
from alumni_community import errors


def test_all_is_sorted_and_every_name_exists() -> None:
    names = alumni_community.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(alumni_community, name), name


def test_every_module_declares_its_exports() -> None:
    for info in pkgutil.walk_packages(alumni_community.__path__, "alumni_community."):
        if info.name.startswith(("alumni_community.migrations.", "alumni_community._demo_host")):
            continue
        if info.ispkg or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), f"{info.name} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.__all__ names missing {name}"


def test_the_package_is_typed() -> None:
    from importlib.resources import files

    assert files("alumni_community").joinpath("py.typed").is_file()


def test_every_error_has_a_distinct_stable_code_and_a_status() -> None:
    classes = [getattr(errors, name) for name in errors.__all__]
    assert all(issubclass(cls, errors.CommunityError) for cls in classes)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), codes
    assert all(100 <= cls.status < 600 for cls in classes)


def test_problem_documents_carry_the_rfc_9457_members_and_field_errors() -> None:
    problem = errors.ValidationFailed({"handle": ["taken"]}).problem()
    assert problem["status"] == 422
    assert problem["code"] == "validation_failed"
    assert problem["errors"] == {"handle": ["taken"]}
    assert {"type", "title", "detail"} <= problem.keys()


def test_rate_limited_says_when_to_retry() -> None:
    error = errors.RateLimited(retry_after=90.4)
    assert error.headers() == {"Retry-After": "90"}
    assert errors.RateLimited(retry_after=0).retry_after == 1
