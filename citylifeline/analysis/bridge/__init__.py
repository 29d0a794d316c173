"""The bridge analyst's parts: the first frequency compensated for temperature and its damage chart
(``modal``), weigh-in-motion from the span's strain and the axle detector (``wim``), and fatigue by
rainflow counting and Miner's rule (``fatigue``); the twice-daily assessment and the analyst in the
live pipeline are to come (issue 27)."""
