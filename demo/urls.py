from django.urls import path

from . import views

urlpatterns = [path("", views.demo_host_page, name="demo-host-page")]
