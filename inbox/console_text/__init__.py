"""What the console's tools (static/console/*.js beside console.js) say, one module per
tool, merged into the console's strings by `inbox.views.console_strings`."""

from . import ai_tools, composer_tools, list_tools, workflow


def tool_strings() -> dict[str, str]:
    return {
        **workflow.strings(),
        **list_tools.strings(),
        **composer_tools.strings(),
        **ai_tools.strings(),
    }
