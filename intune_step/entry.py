"""``python -m intune_step.entry``: the same as ``intune-step ci``.

Kept because the recipes, the Appcircle step and the workflows name it.
"""

from intune_step.commands.cli import main

if __name__ == "__main__":
    main(["ci", *__import__("sys").argv[1:]], prog_name="python -m intune_step.entry")
