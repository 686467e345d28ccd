# General user-interface texts.
ui-app-name = Kantoortelefonie
ui-greeting = Welkom, { $name }
