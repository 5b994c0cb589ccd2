from veriscan.cli.app import main

main()
