from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="demo-home"),
    path("product/<slug:slug>/", views.product, name="demo-product"),
    path("cart/", views.cart, name="demo-cart"),
]
