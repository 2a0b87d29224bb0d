"""url_path_for() substitutes into a path parameter's value when the value holds another
parameter's placeholder: the URL depends on the order of the keyword arguments, and through
a Mount the same call raises KeyError (every Starlette release read, 0.26.1 to 1.3.1;
asgisim's fuzz_router, property "round trip").

``replace_params`` builds the path with one ``str.replace`` per parameter, over the text the
earlier replacements made. A value ``"{id}"`` given before ``id`` is replaced by ``id``'s
value; in a Mount, whose ``replace_params`` sees the child route's parameters too but has no
convertor for them, the lookup of that convertor raises KeyError.

    python3 placeholder_in_value.py                      # the installed Starlette
    python3 placeholder_in_value.py --starlette-path DIR # DIR/starlette first (a source tree)

Prints each call and what it gave; exits 1 when a value was substituted into or a call
raised, 0 when every value was printed as given. Known upstream: Kludex/starlette#3478
(closed), fix proposed in PR #3480 (open as of 2026-12-06).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List, Optional, Tuple


def build_app() -> Any:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route, Router

    async def endpoint(request: Any) -> Any:
        return PlainTextResponse("ok")

    return Router(routes=[
        Route("/{name}/users/{id}", endpoint, name="user"),
        Mount("/{team}", routes=[Route("/{id}", endpoint, name="member")], name="team"),
    ])


# (route name, keyword arguments in call order, the path a literal substitution gives)
CALLS: List[Tuple[str, Dict[str, str], str]] = [
    ("user", {"id": "100", "name": "{id}"}, "/{id}/users/100"),
    ("user", {"name": "{id}", "id": "100"}, "/{id}/users/100"),
    ("team:member", {"id": "5", "team": "{id}"}, "/{id}/5"),
    ("team:member", {"team": "{id}", "id": "5"}, "/{id}/5"),
]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starlette-path", help="a directory holding a starlette/ package, imported first")
    args = parser.parse_args(argv)
    if args.starlette_path:
        sys.path.insert(0, args.starlette_path)
    import starlette

    app = build_app()
    bug = False
    print(f"Starlette {starlette.__version__}")
    for name, kwargs, literal in CALLS:
        call = f"url_path_for({name!r}, " + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
        try:
            got = str(app.url_path_for(name, **kwargs))
        except KeyError as error:
            print(f"{call} raised KeyError({error})")
            bug = True
            continue
        print(f"{call} -> {got!r}" + ("" if got == literal else f" (the value as given: {literal!r})"))
        bug = bug or got != literal
    return 1 if bug else 0


if __name__ == "__main__":
    sys.exit(main())
