"""The Chromium helper moved to `tests.browser`; this name stays for tests that import it."""

from tests.browser import CHROMIUM_FLAGS, chromium, load

__all__ = ["CHROMIUM_FLAGS", "chromium", "load"]
