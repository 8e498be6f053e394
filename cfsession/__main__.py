from cfsession._entry import main

raise SystemExit(main())
