"""The bridge analyst's parts: the first frequency compensated for temperature and its damage chart
(``modal``); weigh-in-motion, fatigue and the twice-daily assessment are to come (issue 27)."""
