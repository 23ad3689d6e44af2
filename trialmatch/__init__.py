"""trialmatch: oncology clinical-trial matching for second opinions.

Decision support for clinicians, not a treatment recommendation.
"""

__version__ = "0.2.0"
