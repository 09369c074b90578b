from ita_rules.cli import main

main()
