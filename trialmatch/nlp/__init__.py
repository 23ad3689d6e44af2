"""Reading text: pathology notes into a Profile, eligibility criteria into Requirements.

Knows nothing of `trialmatch.ingest`; no spaCy object leaves this package.
"""

import importlib
import sys
import types


class _Deferred(types.ModuleType):
    """Stands in `sys.modules` for a module not loaded yet; the first attribute asked of it
    loads the real module, which then answers for it (and replaces it in `sys.modules`)."""

    def __getattr__(self, attribute: str):
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
            try:
                importlib.import_module(self.__name__)
            except BaseException:
                sys.modules[self.__name__] = self
                raise
        return getattr(sys.modules[self.__name__], attribute)


def _defer_import(name: str) -> None:
    """Register `name` to load on first use rather than on import.

    spaCy imports `requests` as it loads (`spacy.cli.download`), and importing `requests`
    imports urllib3, which opens and binds an IPv6 socket to probe for IPv6 support: every
    command that reads a note made a socket it never used (issue 17). Nothing here downloads,
    so `requests` stays unloaded; `refresh`, which does use it, loads it on first use.
    """
    if name not in sys.modules:
        sys.modules[name] = _Deferred(name)


_defer_import("requests")
