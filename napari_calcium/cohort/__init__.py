"""Cohort analyses: tidy tables over many subjects and their statistics.

* :mod:`.manifest` — the cohort manifest (one CSV row per subject), validated up front;
* :mod:`.batch` — runs a manifest on Dask and writes per-subject JSON and tidy tables;
* :mod:`.stats` — group summaries, Spearman with Fisher-z CI, Kruskal-Wallis,
  chi-square and logistic-regression odds ratios (scipy / statsmodels);
* :mod:`.svd_report` — small vessel disease markers by intracranial calcification
  grade: table, statistics and an HTML report.
"""
