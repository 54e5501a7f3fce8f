import sys

if sys.argv[1:2] == ["tenants"]:  # bench/run tenants: one run to M tenants vs M runs
    from bench.tenants import main as tenants

    tenants(sys.argv[2:])
else:
    from bench.main import main

    main()
