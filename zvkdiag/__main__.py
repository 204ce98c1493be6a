from zvkdiag.cli import main

raise SystemExit(main())
