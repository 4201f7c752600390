from wirebridge.cli.launch import run

run()
