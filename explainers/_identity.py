"""A starter list of identity terms, for the share of text attribution that falls on them.

Lower-case words that name or imply a gender, a sexual orientation, a religion, a race or ethnicity, an age
group or a disability. The text-audit lexicons (with their sources) extend it; users pass their own.
"""

IDENTITY_TERMS = frozenset("""
he she him her his hers himself herself man woman men women boy girl boys girls male female guy guys lady
ladies gentleman father mother dad mom mum son daughter brother sister husband wife boyfriend girlfriend
uncle aunt grandfather grandmother mr mrs ms miss sir madam king queen gay lesbian bisexual transgender trans
queer straight muslim christian jewish jew hindu buddhist catholic atheist islam church mosque black white
asian african latino latina hispanic arab indian chinese mexican american european immigrant old young elderly
teen teenager senior blind deaf disabled wheelchair
""".split())
