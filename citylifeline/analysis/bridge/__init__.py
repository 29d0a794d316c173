"""The bridge analyst's parts: the first frequency compensated for temperature and its damage chart
(``modal``), and weigh-in-motion from the span's strain and the axle detector (``wim``); fatigue,
the twice-daily assessment and the analyst in the live pipeline are to come (issue 27)."""
