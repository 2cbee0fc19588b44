"""The security console's web pages: server-rendered HTML over the console's store reads.

Kept free of imports so that :mod:`proxy.console.auth` can use the cookie and CSRF modules
without loading the page routes (which import it); :func:`proxy.console.web.mount.mount_pages`
adds the pages to a console app.
"""
