"""``hetfit demo``: the whole pipeline on embedded data (see :mod:`hetfit.demo.pipeline`)."""
