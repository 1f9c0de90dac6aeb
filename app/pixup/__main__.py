from pixup.cli import main

raise SystemExit(main())
