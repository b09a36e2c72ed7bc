"""The demo shop: a few pages embedding the snippet for site `demo`, so `make run` shows the whole product."""

import hashlib
import hmac

from django.http import Http404
from django.shortcuts import render as render_page

from visitors.models import Site
from visitors.services import site_rotate_identity_secret
from visitors.views import widget_path

PRODUCTS = {
    "trail-shoes": {"name": "Trail running shoes", "price": "89.00", "text": "Grippy soles for muddy hills."},
    "rain-jacket": {"name": "Rain jacket", "price": "120.00", "text": "Light, packable and properly waterproof."},
    "wool-socks": {"name": "Merino wool socks", "price": "14.50", "text": "Warm when wet, never itchy."},
    "day-pack": {"name": "20 L day pack", "price": "65.00", "text": "Room for lunch, a layer and a map."},
}


def render(request, template: str, context: dict):
    # The snippet by its versioned URL, cached for a year until the next release.
    return render_page(request, template, {**context, "widget_path": widget_path()})


def home(request):
    return render(request, "demo/home.html", {"products": PRODUCTS})


def product(request, slug: str):
    if slug not in PRODUCTS:
        raise Http404("No such product")
    return render(request, "demo/product.html", {"slug": slug, "product": PRODUCTS[slug], "products": PRODUCTS})


def cart(request):
    return render(request, "demo/cart.html", {"products": PRODUCTS})


# A signed-in customer of the demo shop: the account page shows the snippet's JavaScript API
# (docs/snippet.md) with them.
CUSTOMER = {"id": "c-1001", "name": "Ada Lovelace", "email": "ada@example.com"}


def account(request):
    """The customer's identity signed as a shop's own server signs it (docs/snippet.md): the HMAC
    of their id with the demo site's identity secret, made for the demo when it has none."""
    site = Site.objects.filter(key="demo").first()
    secret = (site.identity_secret or site_rotate_identity_secret(site_id=site.pk)) if site else ""
    signed = hmac.new(secret.encode(), CUSTOMER["id"].encode(), hashlib.sha256).hexdigest() if secret else ""
    return render(request, "demo/account.html", {"products": PRODUCTS, "customer": CUSTOMER, "customer_hash": signed})


def consent(request):
    """The snippet in consent mode (docs/embedding.md): nothing stored, no socket, until the
    visitor opens the chat or accepts the shop's cookies."""
    return render(request, "demo/consent.html", {"products": PRODUCTS, "consent_mode": True})
