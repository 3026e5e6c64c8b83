"""The LINE sandbox: a local stand-in for the LINE platform (fake Messaging API, webhook sender, chat page).

`madoguchi demo` and the test suite use it instead of LINE. See DESIGN.md, "The LINE sandbox".
"""

from bot.sandbox.api import create_sandbox_router
from bot.sandbox.platform import SandboxPlatform
from bot.sandbox.records import Delivery

__all__ = ["Delivery", "SandboxPlatform", "create_sandbox_router"]
