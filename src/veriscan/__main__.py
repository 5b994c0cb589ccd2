from veriscan.cli.entry import main

main()
