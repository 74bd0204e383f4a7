"""The organisation (Art. 7-17, 21, 29-31): units, people, enrolment, moves and leavers,
administrators and their scopes, presence and sign-in statistics, the directory.

Each module is one concept and opens its own transactions on a ``Database``; the doors (web
pages, ``banli org`` commands, the API) parse, ask ``workflow.access`` and call these.
"""
