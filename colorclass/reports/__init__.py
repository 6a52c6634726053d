"""colorclass.reports: the run report (``page.build_run_report``) and its analysis figures.

    run folder + photos -> analysis (entropy, confusions, regions, priors) -> page (report.html)
"""
