"""The web page: ``stylenet serve`` (a page on this computer) and ``stylenet export-web`` (a static page).

* ``styles``: the styles the page offers (registry names only), a sample photo and its thumbnails;
* ``jobs``: one upload stylized with ``stylenet stylize``'s checks, with progress and cancellation;
* ``server``: the Starlette app (``[web]`` extra): the page, the styles, a bounded queue of jobs;
* ``export``: the static folder (the page, ONNX networks, onnxruntime-web from the npm registry);
* ``cli``: the ``serve`` and ``export-web`` commands.

scripts/web_load.py is the load test (a second process on loopback).

Nothing on the inference path imports this package; only ``server`` imports Starlette.
"""
