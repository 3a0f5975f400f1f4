"""The account service: person accounts, the golden customer record every other service refers to."""
