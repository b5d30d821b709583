from cfremedy.cli import main

main()
