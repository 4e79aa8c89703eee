from gatewayz.cli import main

main()
