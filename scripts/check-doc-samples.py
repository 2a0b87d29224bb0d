#!/usr/bin/env python3
"""Every C++ and CMake sample in the docs is a compiled, tested file.

A fenced block in docs/*.md or README.md is preceded by a marker naming the
file (and optionally a region of it) it shows:

    <!-- include: examples/consumer/timing.cpp#middleware -->
    ```cpp
    ...exactly the lines between `// [doc:middleware]` and `// [/doc:middleware]`...
    ```

A region is delimited by `// [doc:NAME]` ... `// [/doc:NAME]` (or `#` for
CMake) and shown dedented; without `#NAME` the whole file is shown. This check fails when a
block differs from its file or a ```cpp / ```cmake block has no marker.
`--fix` rewrites every marked block from its file.

    /usr/bin/python3 scripts/check-doc-samples.py [--fix]
"""
import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- include: (?P<path>[^#\s]+)(?:#(?P<region>[\w-]+))? -->$")
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)$")
CHECKED_LANGS = {"cpp", "c++", "cmake"}


def region_text(path: pathlib.Path, region: str | None) -> str:
    lines = path.read_text().splitlines()
    if region is None:
        return "\n".join(lines)
    begin = re.compile(r"^\s*(//|#) \[doc:" + re.escape(region) + r"\]\s*$")
    end = re.compile(r"^\s*(//|#) \[/doc:" + re.escape(region) + r"\]\s*$")
    starts = [i for i, line in enumerate(lines) if begin.match(line)]
    ends = [i for i, line in enumerate(lines) if end.match(line)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(f"{path.relative_to(ROOT)}: region '{region}' is not delimited exactly once")
    return textwrap.dedent("\n".join(lines[starts[0] + 1 : ends[0]]))


def check(doc: pathlib.Path, fix: bool) -> list[str]:
    problems: list[str] = []
    lines = doc.read_text().splitlines()
    out: list[str] = []
    pending = None  # (path, region, marker line number)
    i = 0
    while i < len(lines):
        line = lines[i]
        marker = MARKER.match(line)
        fence = FENCE.match(line)
        if marker:
            pending = (marker["path"], marker["region"], i + 1)
            out.append(line)
            i += 1
            continue
        if fence and fence["lang"]:
            close = next((j for j in range(i + 1, len(lines)) if lines[j] == "```"), None)
            if close is None:
                problems.append(f"{doc.relative_to(ROOT)}:{i + 1}: unclosed code block")
                out.extend(lines[i:])
                break
            body = "\n".join(lines[i + 1 : close])
            where = f"{doc.relative_to(ROOT)}:{i + 1}"
            if pending is not None:
                path, region, _ = pending
                try:
                    expected = region_text(ROOT / path, region)
                except (OSError, ValueError) as error:
                    problems.append(f"{where}: {error}")
                    expected = body
                if body != expected:
                    problems.append(f"{where}: differs from {path}{'#' + region if region else ''}")
                    body = expected
                out.append(line)
                out.extend(body.splitlines())
                out.append("```")
            else:
                if fence["lang"] in CHECKED_LANGS:
                    problems.append(f"{where}: a ```{fence['lang']} block with no <!-- include: FILE#REGION -->")
                out.extend(lines[i : close + 1])
            pending = None
            i = close + 1
            continue
        if line.strip():
            pending = None if not line.startswith("<!--") else pending
        out.append(line)
        i += 1
    if fix:
        doc.write_text("\n".join(out) + "\n")
    return problems


def main() -> int:
    fix = "--fix" in sys.argv[1:]
    docs = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
    problems = [p for doc in docs for p in check(doc, fix)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and not fix:
        print(f"{len(problems)} doc sample(s) out of date; run {sys.argv[0]} --fix", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
