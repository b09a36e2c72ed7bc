from django.contrib.staticfiles import finders
from django.http import FileResponse
from django.views.decorators.http import require_GET


@require_GET
def widget_js(request):
    """The site snippet, loaded by `<script src=".../widget.js" data-site="KEY" async>` on other sites."""
    # FileResponse closes the file when it is sent.
    # The charset matters: a host page in another encoding would garble the widget's own text.
    response = FileResponse(open(finders.find("widget/widget.js"), "rb"), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    # Owners' pages on other origins must be allowed to load it, even under COEP.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
