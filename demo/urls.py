from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="demo-home"),
    path("product/<slug:slug>/", views.product, name="demo-product"),
    path("cart/", views.cart, name="demo-cart"),
    path("account/", views.account, name="demo-account"),
    path("consent/", views.consent, name="demo-consent"),
]
