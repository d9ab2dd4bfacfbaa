from index.cli.main import main

main()
