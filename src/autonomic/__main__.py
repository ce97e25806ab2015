from autonomic.cli.main import run

run()
