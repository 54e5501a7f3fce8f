from intune_step.commands.cli import main

if __name__ == "__main__":
    main()
