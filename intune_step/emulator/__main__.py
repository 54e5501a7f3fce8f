from .sandbox import main

main()
