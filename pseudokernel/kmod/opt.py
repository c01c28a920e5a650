"""GNU getopt_long(), as kmod's tools parse their command lines (glibc's texts for bad options)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on every CLI call

# The CLI runs this on every insmod: no dataclasses or typing machinery at import time (the
# 30 ms budget of a round trip is mostly the interpreter's own start).
if TYPE_CHECKING:
    from collections.abc import Sequence

def getopt_long(prog: str, argv: Sequence[str], shortopts: str,
                longopts: dict[str, tuple[int, str]]) -> tuple[list[tuple[str, str | None]], list[str], str]:
    """glibc getopt_long() with argument permutation: ([(key, arg)], operands, error text).

    `argv` excludes the program name. `longopts` maps a long name to (has_arg: 0|1, key); a long
    option may be abbreviated to any unique prefix. Errors are glibc's texts; a tool returns
    EXIT_FAILURE on them ('?').
    """
    opts: list[tuple[str, str | None]] = []
    operands: list[str] = []
    i = 0
    argv = list(argv)
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            operands.extend(argv[i:])
            break
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            matches = [n for n in longopts if n == name] or [n for n in longopts if n.startswith(name)]
            keys = {longopts[n] for n in matches}
            if not matches:
                return opts, operands, f"{prog}: unrecognized option '{a}'\n"
            if len(keys) > 1:
                cands = " ".join(f"'--{n}'" for n in matches)
                return opts, operands, f"{prog}: option '--{name}' is ambiguous; possibilities: {cands}\n"
            full = matches[0]
            has_arg, key = longopts[full]
            if has_arg:
                if not eq:
                    if i >= len(argv):
                        return opts, operands, f"{prog}: option '--{full}' requires an argument\n"
                    value = argv[i]
                    i += 1
                opts.append((key, value))
            else:
                if eq:
                    return opts, operands, f"{prog}: option '--{full}' doesn't allow an argument\n"
                opts.append((key, None))
            continue
        if a.startswith("-") and a != "-":
            j = 1
            while j < len(a):
                c = a[j]
                pos = shortopts.find(c)
                if pos < 0 or c == ":":
                    return opts, operands, f"{prog}: invalid option -- '{c}'\n"
                if pos + 1 < len(shortopts) and shortopts[pos + 1] == ":":
                    if j + 1 < len(a):
                        opts.append((c, a[j + 1:]))
                    elif i < len(argv):
                        opts.append((c, argv[i]))
                        i += 1
                    else:
                        return opts, operands, f"{prog}: option requires an argument -- '{c}'\n"
                    break
                opts.append((c, None))
                j += 1
            continue
        operands.append(a)
    return opts, operands, ""
