"""Which pickle imports give whoever made the file code execution, file or network access.

veriscan never loads a pickle, so nothing here can run; the table decides what an examiner is
told: a checkpoint that imports one of these would run code on the machine of anyone who loads
it (``model-code-execution``). Cross-checked against picklescan's maintained ``_unsafe_globals``
(mmaitre314/picklescan, src/picklescan/scanner.py, read December 2026): every module and name it
lists is covered here, plus the wider modules veriscan already treated as dangerous. picklescan
itself is not a dependency: its scanner also fetches URLs and reads archives itself, where only
the table is needed, and the walker in ``pickles.py`` already lists the imports.
"""

from __future__ import annotations

ANY = frozenset({"*"})
_WHOLE_MODULES = (
    *("os", "posix", "nt", "subprocess", "sys", "runpy", "shutil", "socket", "ssl", "pty"),
    *("importlib", "webbrowser", "pickle", "_pickle", "marshal", "ctypes", "code", "codeop"),
    *("commands", "multiprocessing", "asyncio", "aiohttp", "pip", "ensurepip", "venv"),
    *("requests", "urllib", "http", "httplib", "ftplib", "types", "timeit", "pdb", "bdb"),
    *("cProfile", "profile", "trace", "platform", "pydoc", "distutils", "idlelib", "lib2to3"),
    *("numpy.f2py", "numpy.testing._private.utils", "functools", "operator"),
)
"""Every name in these modules: processes, files, sockets, interpreters, loaders."""

DANGEROUS: dict[str, frozenset[str]] = {
    **dict.fromkeys(_WHOLE_MODULES, ANY),
    "doctest": frozenset({"debug_script"}),
    "torch.serialization": frozenset({"load"}),
    "torch._dynamo.guards": frozenset({"GuardBuilder.get"}),
    "torch._inductor.codecache": frozenset({"compile_file"}),
    "torch.fx.experimental.symbolic_shapes": frozenset({"ShapeEnv.evaluate_guards_expression"}),
    "torch.jit.unsupported_tensor_ops": frozenset({"execWrapper"}),
    "torch.utils._config_module": frozenset({"ConfigModule.load_config"}),
    "torch.utils.bottleneck.__main__": frozenset({"run_cprofile", "run_autograd_prof"}),
    "torch.utils.collect_env": frozenset({"run"}),
    "torch.utils.data.datapipes.utils.decoder": frozenset({"basichandlers"}),
}
"""Module -> dangerous names (``ANY``: all of them). A module listed with ANY covers its
submodules too (``os.path`` is ``os``); a named entry covers only that module."""

DANGEROUS_BUILTINS = frozenset(
    {"eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "__import__", "globals"}
    | {"locals", "vars", "input", "breakpoint", "apply", "execfile", "memoryview"}
)
"""Under ``builtins`` (protocol 3+) or ``__builtin__`` (protocols 0-2)."""


def is_dangerous(name: str) -> bool:
    """``name`` is "module.attr" as the walker reports it; "<...>" means it could not be read,
    which is treated as dangerous because a hidden import is how scanners are evaded."""
    if name.startswith("<"):
        return True
    module, _, attr = name.rpartition(".")
    if module in ("builtins", "__builtin__"):
        return attr in DANGEROUS_BUILTINS
    for cut in range(len(module), 0, -1):
        if cut < len(module) and module[cut] != ".":
            continue
        names = DANGEROUS.get(module[:cut])
        if names is ANY:
            return True
        if names is not None and cut == len(module) and attr in names:
            return True
    return _dotted_attr_match(name)


def _dotted_attr_match(name: str) -> bool:
    """Class methods are imported as "module.Class.method": the split point is ambiguous."""
    parts = name.split(".")
    for cut in range(1, len(parts) - 1):
        names = DANGEROUS.get(".".join(parts[:cut]))
        if names is not None and names is not ANY and ".".join(parts[cut:]) in names:
            return True
    return False
